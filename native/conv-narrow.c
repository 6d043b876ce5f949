/* alocc compiled kernels: direct convolutions for narrow channel counts (see kernels.h), where im2col + GEMM loses.
 * The rotation net's first conv has one input channel and 8 outputs: its im2col rows are 9 floats built by three
 * 3-float copies each, and with AVX-512 (16 lanes) 8 outputs fell to a dot product per output with a horizontal sum;
 * that conv's forward and filter gradient were a quarter of a rotation step at 28×28. Here each output pixel (or, for
 * the filter gradient, each dy pixel) keeps its Co values in 8-lane vectors and walks the taps in the order im2col
 * lays them out (kh, kw, ci), so the sums are the GEMM's up to rounding. */
#include <string.h>
#include "kernels.h"

/* The outputs' vectors: 8 lanes (one AVX register; half an AVX-512 one, as 8 outputs need), 4 on the 128-bit
 * baseline, where 8-lane vectors would be register pairs and spill. */
#if VW >= 8
#define NW 8
#else
#define NW 4
#endif
typedef float v8 __attribute__((vector_size(NW * 4)));
typedef float v8u __attribute__((vector_size(NW * 4), aligned(4)));
typedef int vi8 __attribute__((vector_size(NW * 4)));
static inline v8 ld8(const float *p) { return *(const v8u *)p; }
static inline void st8(float *p, v8 v) { *(v8u *)p = v; }
#if NW == 8
static inline v8 splat(float s) { return (v8){s, s, s, s, s, s, s, s}; }
#else
static inline v8 splat(float s) { return (v8){s, s, s, s}; }
#endif

/* Co / NW at most this: 64 outputs. */
#define NARROW_MAX (64 / NW)

int conv_narrow_usable(const geometry *g) { return g->Co % 8 == 0 && g->Co <= 64 && g->KH * g->KW * g->Ci * g->Co <= NARROW_FILTER; }

/* Whether the direct forward beats im2col + GEMM (measured per ISA at the rotation net's and R's first convs): one
 * input channel, outputs narrower than a vector, or few channels in and out (Ci·Co up to 128 with AVX-512's 16-lane
 * GEMM, 512 with AVX2's and the baseline's narrower ones). */
int conv_narrow_forward_wins(const geometry *g) {
  return conv_narrow_usable(g) && (g->Ci == 1 || g->Co % VW != 0 || g->Ci * g->Co <= (VW >= 16 ? 128 : 512));
}

typedef struct {
  geometry g;
  const float *x, *w, *bias, *dy;
  float *y;
  int act;
  float alpha;
  long next;
  float *acc[MAX_THREADS];
} narrow_job;

/* Output pixels ow0 … ow0+P−1 of row (n, oh): acc[p·Q + q] = Σ over in-image taps (kh, kw, ci) of x · w[tap][8q ..
 * 8q+8). Inlined with P, Q, KH and KW constant, so the accumulators stay in registers and the P pixels are independent
 * chains of multiply-adds (one pixel's nine taps alone wait on each other's latency). `check`: some tap of these
 * pixels may fall outside the row (the edges), else every column is inside. */
static inline __attribute__((always_inline)) void pixels_forward(const geometry *g, const float *img, const float *w, int oh,
                                                                int ow0, const int P, const int Q, const int kh_n,
                                                                const int kw_n, const int ci_n, const int check, v8 *acc) {
  for (int k = 0; k < P * Q; k++) acc[k] = (v8){0};
  for (int kh = 0; kh < kh_n; kh++) {
    int ih = oh * g->SH - g->PT + kh;
    if (ih < 0 || ih >= g->H) continue;
    const float *row = img + (long)ih * g->W * ci_n;
    for (int kw = 0; kw < kw_n; kw++) {
      const float *wt = w + (long)(kh * kw_n + kw) * ci_n * g->Co;
      for (int ci = 0; ci < ci_n; ci++, wt += g->Co) {
        v8 wv[NARROW_MAX];
        for (int q = 0; q < Q; q++) wv[q] = ld8(wt + NW * q);
        for (int p = 0; p < P; p++) {
          int iw = (ow0 + p) * g->SW - g->PL + kw;
          if (check && (iw < 0 || iw >= g->W)) continue;
          const v8 xv = splat(row[(long)iw * ci_n + ci]);
          for (int q = 0; q < Q; q++) acc[p * Q + q] += xv * wv[q];
        }
      }
    }
  }
}

/* Row (n, oh): the columns whose taps all lie inside P at a time, the edges one at a time with checks. */
static inline __attribute__((always_inline)) void row_forward(const narrow_job *j, long r, const int Q, const int kh_n,
                                                             const int kw_n, const int ci_n) {
  const geometry *g = &j->g;
  enum { LANES = 16 }; /* P·Q accumulators at most: registers to spare for the weights */
  const int P = Q >= LANES / 2 ? 1 : Q >= LANES / 4 ? LANES / (2 * Q) : 4; /* never 0: Q is up to 16 on the baseline */
  int n = (int)(r / g->OH), oh = (int)(r % g->OH);
  const float *img = j->x + (long)n * g->H * g->W * g->Ci;
  float *y = j->y + r * g->OW * g->Co;
  /* Columns ow with 0 ≤ ow·SW − PL and ow·SW − PL + KW ≤ W have every tap inside. */
  int lo = g->PL > 0 ? (g->PL + g->SW - 1) / g->SW : 0, hi = g->W - kw_n + g->PL < 0 ? -1 : (g->W - kw_n + g->PL) / g->SW;
  if (hi > g->OW - 1) hi = g->OW - 1;
  v8 acc[4 * NARROW_MAX];
  for (int ow = 0; ow < g->OW;) {
    int p_n = 1;
    if (ow >= lo && ow + P - 1 <= hi) {
      pixels_forward(g, img, j->w, oh, ow, P, Q, kh_n, kw_n, ci_n, 0, acc);
      p_n = P;
    } else {
      pixels_forward(g, img, j->w, oh, ow, 1, Q, kh_n, kw_n, ci_n, 1, acc);
    }
    for (int p = 0; p < p_n; p++, ow++, y += g->Co) {
      if (j->act == ACT_SIGMOID) {
        for (int q = 0; q < Q; q++) st8(y + NW * q, acc[p * Q + q]);
        for (int c = 0; c < g->Co; c++) y[c] = 1.f / (1.f + __builtin_expf(-(y[c] + (j->bias ? j->bias[c] : 0.f))));
        continue;
      }
      /* In vectors, as conv.c applies them to each value: v = y + bias, then the activation (NaN stays NaN). */
      for (int q = 0; q < Q; q++) {
        v8 v = acc[p * Q + q];
        if (j->bias) v += ld8(j->bias + NW * q);
        if (j->act == ACT_RELU) v = (v8)((vi8)v & ~(vi8)(v < 0));
        if (j->act == ACT_LEAKYRELU) {
          vi8 up = (vi8)(v > 0);
          v = (v8)(((vi8)v & up) | ((vi8)(v * j->alpha) & ~up));
        }
        st8(y + NW * q, v);
      }
    }
  }
}

/* One output row (n, oh) a block; bias and activation as conv.c's forward applies them. */
static void forward_rows(void *p, int tid) {
  (void)tid;
  narrow_job *j = p;
  const geometry *g = &j->g;
  /* The rotation net's shapes with constant geometry (3×3; one input channel), so the compiler unrolls the taps. */
  const int three = g->KH == 3 && g->KW == 3;
  for (long r; next_block(&j->next, (long)g->N * g->OH, &r);) {
#define ROW(Q)                                                                                                   \
  (!three ? row_forward(j, r, Q, g->KH, g->KW, g->Ci)                                                              \
   : g->Ci == 1 ? row_forward(j, r, Q, 3, 3, 1)                                                                    \
   : g->Ci == 8 ? row_forward(j, r, Q, 3, 3, 8)                                                                    \
   : g->Ci == 16 ? row_forward(j, r, Q, 3, 3, 16)                                                                  \
                 : row_forward(j, r, Q, 3, 3, g->Ci))
    switch (g->Co / NW) {
      case 1: ROW(1); break;
      case 2: ROW(2); break;
      case 4: ROW(4); break;
      case 8: ROW(8); break;
      default: row_forward(j, r, g->Co / NW, g->KH, g->KW, g->Ci); break;
    }
#undef ROW
  }
}

int conv_narrow_forward(const geometry *g, const float *x, const float *w, const float *bias, float *y, int act, float alpha) {
  narrow_job j = {.g = *g, .x = x, .w = w, .bias = bias, .y = y, .act = act, .alpha = alpha};
  parallel(forward_rows, &j);
  return KERNEL_OK;
}

/* dW[tap][co] += x(tap) · dy[co] over one image's output pixels: summed in a[] first (an image's few hundred terms,
 * as a GEMM block sums them), then into the thread's accumulator. Inlined with Q, KH, KW and Ci constant for the
 * rotation net's first conv, a[] (9 vectors) stays in registers; `check` as in pixels_forward. */
static inline __attribute__((always_inline)) void pixel_filter(const geometry *g, const float *img, const float *dy, int oh,
                                                              int ow, const int Q, const int kh_n, const int kw_n,
                                                              const int ci_n, const int check, v8 *a) {
  v8 d[NARROW_MAX];
  for (int q = 0; q < Q; q++) d[q] = ld8(dy + NW * q);
  for (int kh = 0; kh < kh_n; kh++) {
    int ih = oh * g->SH - g->PT + kh;
    if (ih < 0 || ih >= g->H) continue;
    for (int kw = 0; kw < kw_n; kw++) {
      int iw = ow * g->SW - g->PL + kw;
      if (check && (iw < 0 || iw >= g->W)) continue;
      const float *src = img + ((long)ih * g->W + iw) * ci_n;
      v8 *l = a + (long)(kh * kw_n + kw) * ci_n * Q;
      for (int ci = 0; ci < ci_n; ci++, l += Q) {
        const v8 xv = splat(src[ci]);
        for (int q = 0; q < Q; q++) l[q] += xv * d[q];
      }
    }
  }
}

static inline __attribute__((always_inline)) void image_filter(const geometry *g, const float *img, const float *dy,
                                                              const int Q, const int kh_n, const int kw_n,
                                                              const int ci_n, v8 *a, float *acc) {
  const int vectors = kh_n * kw_n * ci_n * Q;
  for (int k = 0; k < vectors; k++) a[k] = (v8){0};
  int lo = g->PL > 0 ? (g->PL + g->SW - 1) / g->SW : 0, hi = g->W - kw_n + g->PL < 0 ? -1 : (g->W - kw_n + g->PL) / g->SW;
  for (int oh = 0; oh < g->OH; oh++)
    for (int ow = 0; ow < g->OW; ow++, dy += g->Co) {
      if (ow >= lo && ow <= hi) pixel_filter(g, img, dy, oh, ow, Q, kh_n, kw_n, ci_n, 0, a);
      else pixel_filter(g, img, dy, oh, ow, Q, kh_n, kw_n, ci_n, 1, a);
    }
  for (int k = 0; k < vectors; k++) st8(acc + NW * k, ld8(acc + NW * k) + a[k]);
}

/* Images dealt out in a fixed order (tid, tid + threads, …), so the sums are the same from run to run. */
static void filter_images(void *p, int tid) {
  narrow_job *j = p;
  const geometry *g = &j->g;
  const int taps = g->KH * g->KW * g->Ci * g->Co, one = g->KH == 3 && g->KW == 3 && g->Ci == 1;
  float *acc = j->acc[tid];
  v8 a[NARROW_FILTER / NW];
  memset(acc, 0, sizeof(float) * (size_t)taps);
  for (long n = tid; n < g->N; n += active_threads) {
    const float *img = j->x + n * g->H * g->W * g->Ci, *dy = j->dy + n * g->OH * g->OW * g->Co;
    if (one && g->Co == 8) image_filter(g, img, dy, 8 / NW, 3, 3, 1, a, acc);
    else if (one && g->Co == 16) image_filter(g, img, dy, 16 / NW, 3, 3, 1, a, acc);
    else image_filter(g, img, dy, g->Co / NW, g->KH, g->KW, g->Ci, a, acc);
  }
}

int conv_narrow_filter_grad(const geometry *g, const float *x, const float *dy, float *dw) {
  narrow_job j = {.g = *g, .x = x, .dy = dy};
  const int taps = g->KH * g->KW * g->Ci * g->Co;
  if (reserve_scratch(1, (size_t)taps) != KERNEL_OK) return KERNEL_NO_MEMORY;
  for (int t = 0; t < active_threads; t++) j.acc[t] = thread_scratch(t, 1, (size_t)taps);
  parallel(filter_images, &j);
  for (int k = 0; k < taps; k++) {
    float s = 0;
    for (int t = 0; t < active_threads; t++) s += j.acc[t][k];
    dw[k] = s;
  }
  return KERNEL_OK;
}
