/*
 * alocc's compiled convolution kernels (a Node-API addon, built at install time by scripts/build-native.js with the
 * machine's C compiler and -march=native). They run on the wasm backend's own heap: JS passes HEAPF32 and the float
 * offsets of each tensor, so nothing is copied in or out. Every conv (forward, input gradient, filter gradient) is an
 * im2col block times a matrix in a register-tiled GEMM, split over a small pthread pool; wasm has no threads in Node
 * and 128-bit SIMD only, so these reach several times XNNPACK's speed on the same machine.
 * Layouts are tfjs's: NHWC activations, HWIO filters ([KH][KW][Ci][Co], i.e. a [KH*KW*Ci][Co] matrix).
 */
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

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

/* ---- GEMM: C[M][N] (+)= A[M][K] · B[K][N]; A(i, k) = A[i*sa + k*sk]; N a multiple of VW. ---- */

static inline __attribute__((always_inline)) void micro(const int mr, const int nv, int K, const float *restrict A,
                                                        long sa, long sk, const float *restrict B, long ldb,
                                                        float *restrict C, long ldc, int accumulate) {
  vf c0[MR], c1[MR];
  for (int i = 0; i < mr; i++) {
    if (accumulate) {
      c0[i] = ld(C + i * ldc);
      if (nv > 1) c1[i] = ld(C + i * ldc + VW);
    } else {
      c0[i] = (vf){0};
      c1[i] = (vf){0};
    }
  }
  for (int k = 0; k < K; k++) {
    const float *b = B + (long)k * ldb;
    const float *a = A + (long)k * sk;
    vf b0 = ld(b), b1 = (vf){0};
    if (nv > 1) b1 = ld(b + VW);
    for (int i = 0; i < mr; i++) {
      float ai = a[i * sa];
      c0[i] += ai * b0;
      if (nv > 1) c1[i] += ai * b1;
    }
  }
  for (int i = 0; i < mr; i++) {
    st(C + i * ldc, c0[i]);
    if (nv > 1) st(C + i * ldc + VW, c1[i]);
  }
}

typedef void (*micro_fn)(int, const float *, long, long, const float *, long, float *, long, int);
#define MICRO(mr, nv)                                                                                              \
  static void micro_##mr##_##nv(int K, const float *A, long sa, long sk, const float *B, long ldb, float *C,      \
                                long ldc, int acc) {                                                            \
    micro(mr, nv, K, A, sa, sk, B, ldb, C, ldc, acc);                                                              \
  }
MICRO(1, 1) MICRO(2, 1) MICRO(3, 1) MICRO(4, 1) MICRO(1, 2) MICRO(2, 2) MICRO(3, 2) MICRO(4, 2)
#if MR > 4
MICRO(5, 1) MICRO(6, 1) MICRO(5, 2) MICRO(6, 2)
#endif
#if MR > 6
MICRO(7, 1) MICRO(8, 1) MICRO(7, 2) MICRO(8, 2)
#endif
static const micro_fn MICROS[MR + 1][3] = {
    {0, 0, 0},
    {0, micro_1_1, micro_1_2},
    {0, micro_2_1, micro_2_2},
    {0, micro_3_1, micro_3_2},
    {0, micro_4_1, micro_4_2},
#if MR > 4
    {0, micro_5_1, micro_5_2},
    {0, micro_6_1, micro_6_2},
#endif
#if MR > 6
    {0, micro_7_1, micro_7_2},
    {0, micro_8_1, micro_8_2},
#endif
};

static void gemm(int M, int N, int K, const float *A, long sa, long sk, const float *B, long ldb, float *C, long ldc,
                 int accumulate) {
  for (int k0 = 0; k0 < K; k0 += KC) {
    int kc = imin(KC, K - k0);
    int acc = accumulate || k0 > 0;
    for (int j = 0; j < N; j += 2 * VW) {
      int nv = N - j >= 2 * VW ? 2 : 1;
      for (int i = 0; i < M; i += MR) {
        int mr = imin(MR, M - i);
        MICROS[mr][nv](kc, A + (long)i * sa + (long)k0 * sk, sa, sk, B + (long)k0 * ldb + j, ldb,
                       C + (long)i * ldc + j, ldc, acc);
      }
    }
  }
}

/* ---- A small thread pool: the caller runs share 0, workers the others; each job pulls blocks from a counter. ---- */

typedef void (*job_fn)(void *arg, int tid);
static int pool_size = 1;      /* threads including the caller */
static int active_threads = 1; /* how many of them take part in a job (the pool never shrinks) */
static pthread_t workers[MAX_THREADS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER, pool_done = PTHREAD_COND_INITIALIZER;
static job_fn pool_job;
static void *pool_arg;
static long pool_generation;
static int pool_pending;

static void *worker_main(void *p) {
  int tid = (int)(intptr_t)p;
  long seen = 0;
  for (;;) {
    pthread_mutex_lock(&pool_lock);
    while (pool_generation == seen) pthread_cond_wait(&pool_wake, &pool_lock);
    seen = pool_generation;
    job_fn job = pool_job;
    void *arg = pool_arg;
    pthread_mutex_unlock(&pool_lock);
    if (tid < active_threads) job(arg, tid);
    pthread_mutex_lock(&pool_lock);
    if (--pool_pending == 0) pthread_cond_signal(&pool_done);
    pthread_mutex_unlock(&pool_lock);
  }
  return NULL;
}

static int pool_start(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  while (pool_size < n) {
    if (pthread_create(&workers[pool_size], NULL, worker_main, (void *)(intptr_t)pool_size) != 0) break;
    pthread_detach(workers[pool_size]);
    pool_size++;
  }
  return pool_size;
}

static void parallel(job_fn job, void *arg) {
  if (active_threads <= 1) {
    job(arg, 0);
    return;
  }
  pthread_mutex_lock(&pool_lock);
  pool_job = job;
  pool_arg = arg;
  pool_pending = pool_size - 1;
  pool_generation++;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_lock);
  job(arg, 0);
  pthread_mutex_lock(&pool_lock);
  while (pool_pending > 0) pthread_cond_wait(&pool_done, &pool_lock);
  pthread_mutex_unlock(&pool_lock);
}

/* Per-thread scratch that only grows. */
static float *scratch[MAX_THREADS][2];
static size_t scratch_len[MAX_THREADS][2];
static float *thread_scratch(int tid, int which, size_t floats) {
  if (scratch_len[tid][which] < floats) {
    free(scratch[tid][which]);
    scratch[tid][which] = aligned_alloc(64, round_up((int)(floats * 4), 64));
    scratch_len[tid][which] = scratch[tid][which] ? floats : 0;
  }
  return scratch[tid][which];
}

/* ---- Convolution geometry and im2col ---- */

typedef struct {
  int N, H, W, Ci, KH, KW, Co, OH, OW, SH, SW, PT, PL;
} geometry;

/* Rows m0..m0+mb of the im2col matrix (one row per output pixel, KH*KW*Ci taps, zero-padded to kdp). */
static void im2col(const geometry *g, const float *x, long m0, int mb, float *col, int kdp) {
  const int kd = g->KH * g->KW * g->Ci, pixels = g->OH * g->OW;
  for (int r = 0; r < mb; r++) {
    long m = m0 + r;
    int n = (int)(m / pixels), rem = (int)(m % pixels), oh = rem / g->OW, ow = rem % g->OW;
    float *dst = col + (long)r * kdp;
    int iw0 = ow * g->SW - g->PL;
    int kw_lo = iw0 < 0 ? -iw0 : 0, kw_hi = imin(g->KW, g->W - iw0);
    if (kw_hi < kw_lo) kw_hi = kw_lo;
    for (int kh = 0; kh < g->KH; kh++) {
      int ih = oh * g->SH - g->PT + kh;
      if (ih < 0 || ih >= g->H) {
        memset(dst, 0, sizeof(float) * g->KW * g->Ci);
      } else {
        const float *src = x + (((long)n * g->H + ih) * g->W + iw0) * g->Ci;
        if (kw_lo > 0) memset(dst, 0, sizeof(float) * kw_lo * g->Ci);
        if (kw_hi > kw_lo)
          memcpy(dst + kw_lo * g->Ci, src + (long)kw_lo * g->Ci, sizeof(float) * (kw_hi - kw_lo) * g->Ci);
        if (kw_hi < g->KW) memset(dst + kw_hi * g->Ci, 0, sizeof(float) * (g->KW - kw_hi) * g->Ci);
      }
      dst += g->KW * g->Ci;
    }
    if (kdp > kd) memset(col + (long)r * kdp + kd, 0, sizeof(float) * (kdp - kd));
  }
}

static int block_rows(int kdp) {
  int rows = (64 * 1024) / kdp;
  if (rows < 32) rows = 32;
  if (rows > 512) rows = 512;
  return rows / MR * MR;
}

enum { ACT_LINEAR = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_LEAKYRELU = 3 };

/* ---- Forward: y[m][co] = act(bias[co] + Σ col[m][k] · w[k][co]) ---- */

typedef struct {
  geometry g;
  const float *x, *w, *bias;
  float *y;
  const float *wt; /* [Co][kdp] transposed filter, for Co not a multiple of VW */
  int act;
  float alpha;
  long next, blocks;
  int rows, kdp;
} forward_job;

static void forward_block(void *p, int tid) {
  forward_job *j = p;
  const geometry *g = &j->g;
  const long M = (long)g->N * g->OH * g->OW;
  const int kd = g->KH * g->KW * g->Ci, co_n = g->Co;
  float *col = thread_scratch(tid, 0, (size_t)j->rows * j->kdp);
  for (;;) {
    long b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= j->blocks) break;
    long m0 = b * j->rows;
    int mb = (int)(M - m0 < j->rows ? M - m0 : j->rows);
    im2col(g, j->x, m0, mb, col, j->kdp);
    float *y = j->y + m0 * co_n;
    if (co_n % VW == 0) {
      gemm(mb, co_n, kd, col, j->kdp, 1, j->w, co_n, y, co_n, 0);
    } else {
      for (int r = 0; r < mb; r++)
        for (int c = 0; c < co_n; c++) {
          const float *a = col + (long)r * j->kdp, *w = j->wt + (long)c * j->kdp;
          vf s0 = {0}, s1 = {0};
          int k = 0;
          for (; k + 2 * VW <= j->kdp; k += 2 * VW) {
            s0 += ld(a + k) * ld(w + k);
            s1 += ld(a + k + VW) * ld(w + k + VW);
          }
          for (; k < j->kdp; k += VW) s0 += ld(a + k) * ld(w + k);
          s0 += s1;
          float s = 0;
          for (int l = 0; l < VW; l++) s += s0[l];
          y[(long)r * co_n + c] = s;
        }
    }
    for (int r = 0; r < mb; r++) {
      float *row = y + (long)r * co_n;
      for (int c = 0; c < co_n; c++) {
        float v = row[c] + (j->bias ? j->bias[c] : 0.f);
        switch (j->act) {
          case ACT_RELU: v = v < 0 ? 0 : v; break; /* NaN stays NaN, as in tfjs: divergence must show */
          case ACT_SIGMOID: v = 1.f / (1.f + expf(-v)); break;
          case ACT_LEAKYRELU: v = v > 0 ? v : v * j->alpha; break;
          default: break;
        }
        row[c] = v;
      }
    }
  }
}

static void conv_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act,
                         float alpha) {
  forward_job j = {.g = *g, .x = x, .w = w, .bias = bias, .y = y, .act = act, .alpha = alpha};
  const int kd = g->KH * g->KW * g->Ci;
  j.kdp = round_up(kd, VW);
  j.rows = block_rows(j.kdp);
  long M = (long)g->N * g->OH * g->OW;
  j.blocks = (M + j.rows - 1) / j.rows;
  float *wt = NULL;
  if (g->Co % VW != 0) {
    wt = calloc((size_t)g->Co * j.kdp, sizeof(float));
    for (int k = 0; k < kd; k++)
      for (int c = 0; c < g->Co; c++) wt[(long)c * j.kdp + k] = w[(long)k * g->Co + c];
    j.wt = wt;
  }
  parallel(forward_block, &j);
  free(wt);
}

/* ---- Filter gradient: dW[k][co] = Σ_m col[m][k] · dy[m][co], as dWᵀ = dyᵀ · col, one accumulator per thread ---- */

typedef struct {
  geometry g;
  const float *x, *dy;
  long blocks;
  int rows, kdp;
  float *acc[MAX_THREADS];
} filter_job;

static void filter_block(void *p, int tid) {
  filter_job *j = p;
  const geometry *g = &j->g;
  const long M = (long)g->N * g->OH * g->OW;
  float *col = thread_scratch(tid, 0, (size_t)j->rows * j->kdp);
  float *acc = j->acc[tid];
  memset(acc, 0, sizeof(float) * g->Co * j->kdp);
  /* Blocks dealt out in a fixed order, so the sums (and training) are the same from run to run. */
  for (long b = tid; b < j->blocks; b += active_threads) {
    long m0 = b * j->rows;
    int mb = (int)(M - m0 < j->rows ? M - m0 : j->rows);
    im2col(g, j->x, m0, mb, col, j->kdp);
    gemm(g->Co, j->kdp, mb, j->dy + m0 * g->Co, 1, g->Co, col, j->kdp, acc, j->kdp, 1);
  }
}

static void conv_filter_grad(const geometry *g, const float *x, const float *dy, float *dw) {
  filter_job j = {.g = *g, .x = x, .dy = dy};
  const int kd = g->KH * g->KW * g->Ci;
  j.kdp = round_up(kd, VW);
  j.rows = block_rows(j.kdp);
  long M = (long)g->N * g->OH * g->OW;
  j.blocks = (M + j.rows - 1) / j.rows;
  int threads = active_threads;
  for (int t = 0; t < threads; t++) j.acc[t] = thread_scratch(t, 1, (size_t)g->Co * j.kdp);
  parallel(filter_block, &j);
  for (int k = 0; k < kd; k++)
    for (int c = 0; c < g->Co; c++) {
      float s = 0;
      for (int t = 0; t < threads; t++) s += j.acc[t][(long)c * j.kdp + k];
      dw[(long)k * g->Co + c] = s;
    }
}

/* ---- Input gradient ---- */

typedef struct {
  geometry g;
  const float *dy, *wt; /* wt: [Co][kdp] */
  float *dx;
  long next;
  int kdp;
} input_job;

/* Strided: per image, dcol = dy · wᵀ, then col2im adds each row's taps into dx. */
static void input_image(void *p, int tid) {
  input_job *j = p;
  const geometry *g = &j->g;
  const int pixels = g->OH * g->OW, kdp = j->kdp;
  float *dcol = thread_scratch(tid, 0, (size_t)pixels * kdp);
  for (;;) {
    long n = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (n >= g->N) break;
    gemm(pixels, kdp, g->Co, j->dy + n * pixels * g->Co, g->Co, 1, j->wt, kdp, dcol, kdp, 0);
    float *dx = j->dx + n * g->H * g->W * g->Ci;
    memset(dx, 0, sizeof(float) * g->H * g->W * g->Ci);
    for (int r = 0; r < pixels; r++) {
      int oh = r / g->OW, ow = r % g->OW;
      const float *src = dcol + (long)r * kdp;
      for (int kh = 0; kh < g->KH; kh++) {
        int ih = oh * g->SH - g->PT + kh;
        if (ih < 0 || ih >= g->H) continue;
        for (int kw = 0; kw < g->KW; kw++) {
          int iw = ow * g->SW - g->PL + kw;
          if (iw < 0 || iw >= g->W) continue;
          float *d = dx + ((long)ih * g->W + iw) * g->Ci;
          const float *s = src + (kh * g->KW + kw) * g->Ci;
          for (int c = 0; c < g->Ci; c++) d[c] += s[c];
        }
      }
    }
  }
}

static void conv_input_grad(const geometry *g, const float *dy, const float *w, float *dx) {
  const int kd = g->KH * g->KW * g->Ci;
  if (g->SH == 1 && g->SW == 1 && g->Ci % VW == 0) {
    /* Stride 1: dx is the forward conv of dy with the filter flipped and its channel axes swapped. */
    float *wf = malloc(sizeof(float) * kd * g->Co);
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++)
        for (int ci = 0; ci < g->Ci; ci++)
          for (int co = 0; co < g->Co; co++)
            wf[(((long)kh * g->KW + kw) * g->Co + co) * g->Ci + ci] =
                w[(((long)(g->KH - 1 - kh) * g->KW + (g->KW - 1 - kw)) * g->Ci + ci) * g->Co + co];
    geometry t = {g->N, g->OH, g->OW, g->Co, g->KH, g->KW, g->Ci, g->H, g->W, 1, 1, g->KH - 1 - g->PT,
                  g->KW - 1 - g->PL};
    conv_forward(&t, dy, wf, NULL, dx, ACT_LINEAR, 0);
    free(wf);
    return;
  }
  input_job j = {.g = *g, .dy = dy, .dx = dx};
  j.kdp = round_up(kd, VW);
  float *wt = calloc((size_t)g->Co * j.kdp, sizeof(float));
  for (int k = 0; k < kd; k++)
    for (int c = 0; c < g->Co; c++) wt[(long)c * j.kdp + k] = w[(long)k * g->Co + c];
  j.wt = wt;
  parallel(input_image, &j);
  free(wt);
}

/* ---- Reductions and elementwise ops on the heap ---- */

/* out[c] = scale · Σ_r x[r][c]: the bias and BatchNorm gradients' sums over batch and pixels. Rows are summed in
 * float32 blocks of 64 and the blocks in float64, so the rounding error does not grow with the batch. */
typedef struct {
  const float *x;
  long rows;
  int cols;
  long blocks;
  double *partial[MAX_THREADS];
} sum_job;
#define SUM_BLOCK 64

static void sum_block(void *p, int tid) {
  sum_job *j = p;
  double *acc = j->partial[tid];
  float *block = thread_scratch(tid, 0, j->cols);
  for (int c = 0; c < j->cols; c++) acc[c] = 0;
  for (long b = tid; b < j->blocks; b += active_threads) { /* fixed order: the same sums every run */
    long r0 = b * SUM_BLOCK, r1 = r0 + SUM_BLOCK < j->rows ? r0 + SUM_BLOCK : j->rows;
    memcpy(block, j->x + r0 * j->cols, sizeof(float) * j->cols);
    for (long r = r0 + 1; r < r1; r++) {
      const float *row = j->x + r * j->cols;
      for (int c = 0; c < j->cols; c++) block[c] += row[c];
    }
    for (int c = 0; c < j->cols; c++) acc[c] += block[c];
  }
}

static void column_sums(const float *x, long rows, int cols, float scale, float *out) {
  sum_job j = {.x = x, .rows = rows, .cols = cols};
  j.blocks = (rows + SUM_BLOCK - 1) / SUM_BLOCK;
  double *all = calloc((size_t)active_threads * cols, sizeof(double));
  for (int t = 0; t < active_threads; t++) j.partial[t] = all + (size_t)t * cols;
  parallel(sum_block, &j);
  for (int c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < active_threads; t++) s += all[(size_t)t * cols + c];
    out[c] = (float)(s * scale);
  }
  free(all);
}

enum { MAP_LEAKYRELU = 0, MAP_LEAKYRELU_GRAD = 1 };
typedef struct {
  int op;
  const float *a, *b;
  float *out;
  long n, next, blocks;
  float alpha;
} map_job;
#define MAP_BLOCK 16384

static void map_block(void *p, int tid) {
  (void)tid;
  map_job *j = p;
  for (;;) {
    long b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= j->blocks) break;
    long i0 = b * MAP_BLOCK, i1 = i0 + MAP_BLOCK < j->n ? i0 + MAP_BLOCK : j->n;
    const float *a = j->a, *g = j->b;
    float *o = j->out, alpha = j->alpha;
    if (j->op == MAP_LEAKYRELU)
      for (long i = i0; i < i1; i++) o[i] = a[i] > 0 ? a[i] : a[i] * alpha;
    else /* a = x, g = dy */
      for (long i = i0; i < i1; i++) o[i] = a[i] > 0 ? g[i] : g[i] * alpha;
  }
}

/* ---- Node-API glue ---- */

/* One op at a time: the pool, the callers' scratch (thread 0's) and the filter-gradient accumulators are shared by
 * every JS thread that loaded the addon (worker_threads each load it). */
static pthread_mutex_t op_lock = PTHREAD_MUTEX_INITIALIZER;

enum { OP_FORWARD = 0, OP_INPUT_GRAD = 1, OP_FILTER_GRAD = 2 };

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, len, data, &buffer, &offset) != napi_ok) return 0;
  return type == want;
}

/* conv(op, heap: Float32Array, p: Int32Array, alpha): p = geometry (13), then float offsets into heap, then act. */
static napi_value js_conv(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_error(env, "conv(op, heap, params[, alpha])");
  int32_t op;
  double alpha = 0;
  if (napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op > 2) return throw_error(env, "unknown op");
  if (argc > 3) napi_get_value_double(env, argv[3], &alpha);
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  if (!typed_array(env, argv[1], napi_float32_array, (void **)&heap, &heap_len))
    return throw_error(env, "heap must be a Float32Array");
  if (!typed_array(env, argv[2], napi_int32_array, (void **)&p, &plen) || plen < 17)
    return throw_error(env, "params must be an Int32Array of 17 or more");
  geometry g = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12]};
  for (int i = 0; i < 11; i++)
    if (p[i] <= 0) return throw_error(env, "conv geometry must be positive");
  size_t xs = (size_t)g.N * g.H * g.W * g.Ci, ws = (size_t)g.KH * g.KW * g.Ci * g.Co,
         ys = (size_t)g.N * g.OH * g.OW * g.Co;
  /* Bounds of every operand inside the heap, so a wrong offset throws instead of corrupting memory. */
  size_t sizes[3][3] = {{xs, ws, ys}, {ys, ws, xs}, {xs, ys, ws}};
  for (int i = 0; i < 3; i++)
    if (p[13 + i] < 0 || (size_t)p[13 + i] + sizes[op][i] > heap_len)
      return throw_error(env, "tensor offset outside the heap");
  const float *a = heap + p[13], *b = heap + p[14];
  float *out = heap + p[15];
  pthread_mutex_lock(&op_lock);
  switch (op) {
    case OP_FORWARD: {
      const float *bias = NULL;
      if (p[16] >= 0) {
        if ((size_t)p[16] + g.Co > heap_len) {
        pthread_mutex_unlock(&op_lock);
        return throw_error(env, "bias offset outside the heap");
      }
        bias = heap + p[16];
      }
      int act = plen > 17 ? p[17] : ACT_LINEAR;
      conv_forward(&g, a, b, bias, out, act, (float)alpha);
      break;
    }
    case OP_INPUT_GRAD: conv_input_grad(&g, a, b, out); break;
    case OP_FILTER_GRAD: conv_filter_grad(&g, a, b, out); break;
    default: break;
  }
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* reduce(heap, p: Int32Array [rows, cols, xOffset, outOffset], scale): column sums. */
static napi_value js_column_sums(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  double scale = 1;
  if (argc < 2 || !typed_array(env, argv[0], napi_float32_array, (void **)&heap, &heap_len) ||
      !typed_array(env, argv[1], napi_int32_array, (void **)&p, &plen) || plen < 4)
    return throw_error(env, "columnSums(heap, Int32Array [rows, cols, x, out][, scale])");
  if (argc > 2) napi_get_value_double(env, argv[2], &scale);
  if (p[0] <= 0 || p[1] <= 0 || p[2] < 0 || p[3] < 0 || (size_t)p[2] + (size_t)p[0] * p[1] > heap_len ||
      (size_t)p[3] + p[1] > heap_len)
    return throw_error(env, "columnSums: operand outside the heap");
  pthread_mutex_lock(&op_lock);
  column_sums(heap + p[2], p[0], p[1], (float)scale, heap + p[3]);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* map(op, heap, p: Int32Array [n, aOffset, bOffset, outOffset], alpha): elementwise ops. */
static napi_value js_map(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t op;
  float *heap;
  int32_t *p;
  size_t heap_len, plen;
  double alpha = 0;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &op) != napi_ok ||
      !typed_array(env, argv[1], napi_float32_array, (void **)&heap, &heap_len) ||
      !typed_array(env, argv[2], napi_int32_array, (void **)&p, &plen) || plen < 4 || op < 0 || op > 1)
    return throw_error(env, "map(op, heap, Int32Array [n, a, b, out][, alpha])");
  if (argc > 3) napi_get_value_double(env, argv[3], &alpha);
  for (int i = 1; i < 4; i++)
    if (p[0] < 0 || p[i] < 0 || (size_t)p[i] + p[0] > heap_len) return throw_error(env, "map: operand outside the heap");
  map_job j = {.op = op, .a = heap + p[1], .b = heap + p[2], .out = heap + p[3], .n = p[0], .alpha = (float)alpha};
  j.blocks = (j.n + MAP_BLOCK - 1) / MAP_BLOCK;
  pthread_mutex_lock(&op_lock);
  parallel(map_block, &j);
  pthread_mutex_unlock(&op_lock);
  return NULL;
}

/* setThreads(n): starts workers up to n (the caller counts as one); returns the number that will run. */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t n = 1;
  if (argc > 0) napi_get_value_int32(env, argv[0], &n);
  if (n < 1) n = 1;
  pthread_mutex_lock(&op_lock);
  int started = pool_start(n);
  active_threads = n < started ? n : started;
  pthread_mutex_unlock(&op_lock);
  napi_create_int32(env, active_threads, &result);
  return result;
}

static napi_value js_vector_width(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, VW, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "conv", NAPI_AUTO_LENGTH, js_conv, NULL, &fn);
  napi_set_named_property(env, exports, "conv", fn);
  napi_create_function(env, "columnSums", NAPI_AUTO_LENGTH, js_column_sums, NULL, &fn);
  napi_set_named_property(env, exports, "columnSums", fn);
  napi_create_function(env, "map", NAPI_AUTO_LENGTH, js_map, NULL, &fn);
  napi_set_named_property(env, exports, "map", fn);
  napi_create_function(env, "setThreads", NAPI_AUTO_LENGTH, js_set_threads, NULL, &fn);
  napi_set_named_property(env, exports, "setThreads", fn);
  napi_create_function(env, "vectorWidth", NAPI_AUTO_LENGTH, js_vector_width, NULL, &fn);
  napi_set_named_property(env, exports, "vectorWidth", fn);
  return exports;
}
